"""Countries, their demonyms and capitals, written for this project.

Used twice: as the fallback gazetteer when no NER model is installed (countries and
capitals are places, demonyms are nationalities), and to map a demonym to its place when
the story-start features compare the entities of neighbouring paragraphs (Russian ->
Russia), so a paragraph about "Russian troops" continues one about Russia.
"""

from __future__ import annotations

from functools import lru_cache

# country | demonym(s, comma separated) | capital
_TABLE = """
Afghanistan|Afghan|Kabul
Albania|Albanian|Tirana
Algeria|Algerian|Algiers
Angola|Angolan|Luanda
Argentina|Argentine,Argentinian|Buenos Aires
Armenia|Armenian|Yerevan
Australia|Australian|Canberra
Austria|Austrian|Vienna
Azerbaijan|Azerbaijani,Azeri|Baku
Bahrain|Bahraini|Manama
Bangladesh|Bangladeshi|Dhaka
Belarus|Belarusian|Minsk
Belgium|Belgian|Brussels
Bolivia|Bolivian|La Paz
Bosnia|Bosnian|Sarajevo
Botswana|Botswanan|Gaborone
Brazil|Brazilian|Brasilia
Bulgaria|Bulgarian|Sofia
Burma|Burmese|Naypyidaw
Cambodia|Cambodian|Phnom Penh
Cameroon|Cameroonian|Yaounde
Canada|Canadian|Ottawa
Chile|Chilean|Santiago
China|Chinese|Beijing
Colombia|Colombian|Bogota
Congo|Congolese|Kinshasa
Costa Rica|Costa Rican|San Jose
Croatia|Croatian,Croat|Zagreb
Cuba|Cuban|Havana
Cyprus|Cypriot|Nicosia
Czech Republic|Czech|Prague
Denmark|Danish,Dane|Copenhagen
Dominican Republic|Dominican|Santo Domingo
Ecuador|Ecuadorean,Ecuadorian|Quito
Egypt|Egyptian|Cairo
El Salvador|Salvadoran|San Salvador
England|English|London
Estonia|Estonian|Tallinn
Ethiopia|Ethiopian|Addis Ababa
Fiji|Fijian|Suva
Finland|Finnish,Finn|Helsinki
France|French|Paris
Georgia|Georgian|Tbilisi
Germany|German|Berlin
Ghana|Ghanaian|Accra
Greece|Greek|Athens
Guatemala|Guatemalan|Guatemala City
Haiti|Haitian|Port-au-Prince
Honduras|Honduran|Tegucigalpa
Hong Kong|Hong Konger|Hong Kong
Hungary|Hungarian|Budapest
Iceland|Icelandic,Icelander|Reykjavik
India|Indian|New Delhi
Indonesia|Indonesian|Jakarta
Iran|Iranian|Tehran
Iraq|Iraqi|Baghdad
Ireland|Irish|Dublin
Israel|Israeli|Jerusalem
Italy|Italian|Rome
Ivory Coast|Ivorian|Yamoussoukro
Jamaica|Jamaican|Kingston
Japan|Japanese|Tokyo
Jordan|Jordanian|Amman
Kazakhstan|Kazakh|Astana
Kenya|Kenyan|Nairobi
Kosovo|Kosovar|Pristina
Kuwait|Kuwaiti|Kuwait City
Kyrgyzstan|Kyrgyz|Bishkek
Laos|Laotian,Lao|Vientiane
Latvia|Latvian|Riga
Lebanon|Lebanese|Beirut
Liberia|Liberian|Monrovia
Libya|Libyan|Tripoli
Lithuania|Lithuanian|Vilnius
Luxembourg|Luxembourgish|Luxembourg
Macedonia|Macedonian|Skopje
Madagascar|Malagasy|Antananarivo
Malaysia|Malaysian|Kuala Lumpur
Mali|Malian|Bamako
Malta|Maltese|Valletta
Mexico|Mexican|Mexico City
Moldova|Moldovan|Chisinau
Monaco|Monegasque|Monaco
Mongolia|Mongolian|Ulaanbaatar
Montenegro|Montenegrin|Podgorica
Morocco|Moroccan|Rabat
Mozambique|Mozambican|Maputo
Myanmar|Myanmar|Naypyidaw
Namibia|Namibian|Windhoek
Nepal|Nepali,Nepalese|Kathmandu
Netherlands|Dutch|Amsterdam
New Zealand|New Zealander|Wellington
Nicaragua|Nicaraguan|Managua
Niger|Nigerien|Niamey
Nigeria|Nigerian|Abuja
North Korea|North Korean|Pyongyang
Norway|Norwegian|Oslo
Oman|Omani|Muscat
Pakistan|Pakistani|Islamabad
Palestine|Palestinian|Ramallah
Panama|Panamanian|Panama City
Paraguay|Paraguayan|Asuncion
Peru|Peruvian|Lima
Philippines|Filipino,Philippine|Manila
Poland|Polish,Pole|Warsaw
Portugal|Portuguese|Lisbon
Qatar|Qatari|Doha
Romania|Romanian|Bucharest
Russia|Russian|Moscow
Rwanda|Rwandan|Kigali
Saudi Arabia|Saudi|Riyadh
Scotland|Scottish,Scot|Edinburgh
Senegal|Senegalese|Dakar
Serbia|Serbian,Serb|Belgrade
Singapore|Singaporean|Singapore
Slovakia|Slovak|Bratislava
Slovenia|Slovenian,Slovene|Ljubljana
Somalia|Somali|Mogadishu
South Africa|South African|Pretoria
South Korea|South Korean|Seoul
Spain|Spanish,Spaniard|Madrid
Sri Lanka|Sri Lankan|Colombo
Sudan|Sudanese|Khartoum
Sweden|Swedish,Swede|Stockholm
Switzerland|Swiss|Bern
Syria|Syrian|Damascus
Taiwan|Taiwanese|Taipei
Tajikistan|Tajik|Dushanbe
Tanzania|Tanzanian|Dodoma
Thailand|Thai|Bangkok
Tunisia|Tunisian|Tunis
Turkey|Turkish,Turk|Ankara
Turkmenistan|Turkmen|Ashgabat
Uganda|Ugandan|Kampala
Ukraine|Ukrainian|Kyiv,Kiev
United Arab Emirates|Emirati|Abu Dhabi
United Kingdom,Britain,UK,U.K.|British,Briton|London
United States,US,U.S.,USA,America|American|Washington
Uruguay|Uruguayan|Montevideo
Uzbekistan|Uzbek|Tashkent
Venezuela|Venezuelan|Caracas
Vietnam|Vietnamese|Hanoi
Wales|Welsh|Cardiff
Yemen|Yemeni|Sanaa
Zambia|Zambian|Lusaka
Zimbabwe|Zimbabwean|Harare
"""


def _rows() -> list[tuple[list[str], list[str], list[str]]]:
    rows = []
    for line in _TABLE.strip().splitlines():
        countries, demonyms, capitals = line.split("|")
        rows.append((countries.split(","), demonyms.split(","), capitals.split(",")))
    return rows


@lru_cache(maxsize=1)
def place_names() -> dict[str, str]:
    """Every country and capital name -> 'GPE'; every demonym -> 'NORP' (OntoNotes labels)."""
    names: dict[str, str] = {}
    for countries, demonyms, capitals in _rows():
        for demonym in demonyms:
            names.setdefault(demonym, "NORP")
            if not demonym.endswith("s"):
                names.setdefault(demonym + "s", "NORP")
        for name in (*countries, *capitals):
            names[name] = "GPE"
    return names


@lru_cache(maxsize=1)
def demonym_places() -> dict[str, str]:
    """Lower-cased demonym (and its plural) -> lower-cased country name."""
    mapping: dict[str, str] = {}
    for countries, demonyms, _capitals in _rows():
        for demonym in demonyms:
            mapping[demonym.lower()] = countries[0].lower()
            mapping[demonym.lower() + "s"] = countries[0].lower()
        for alias in countries[1:]:
            mapping[alias.lower()] = countries[0].lower()
    return mapping


def place_key(name: str) -> str:
    """The key that identifies what a name refers to: demonyms and aliases become the country."""
    key = name.lower().strip()
    if key.endswith("'s") or key.endswith("\u2019s"):
        key = key[:-2]
    if key.startswith("the "):
        key = key[4:]
    return demonym_places().get(key, key)
